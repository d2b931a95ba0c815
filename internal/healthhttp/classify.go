package healthhttp

import (
	"context"
	"errors"
	"net/url"

	"github.com/dbactor/dbactor/messages"
)

// classes map sentinels to the short codes the status shows instead of an
// error's text (which may carry driver text: hosts, users, SQL). The first
// match wins: a timeout is a timeout whatever else it wraps.
var classes = []struct {
	err  error
	code string
}{
	{messages.ErrTimeout, "timeout"},
	{context.DeadlineExceeded, "timeout"},
	{messages.ErrCanceled, "canceled"},
	{context.Canceled, "canceled"},
	{messages.ErrClosed, "closed"},
	{messages.ErrConnectFailed, "connect_failed"},
	{messages.ErrNotConnected, "not_connected"},
	{messages.ErrHookFailed, "hook_failed"},
	{messages.ErrOverloaded, "overloaded"},
	{messages.ErrUnavailable, "unavailable"},
	{messages.ErrPermissionDenied, "permission_denied"},
	{messages.ErrUnknownDatabase, "unknown_database"},
	{messages.ErrInvalidConfig, "invalid_config"},
	{messages.ErrQuery, "query_failed"},
	{messages.ErrInternal, "internal"},
}

// errorClass is err's short code: "" for nil, "error" for an error that
// matches none of the known sentinels.
func errorClass(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range classes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}

// publicURL is a redacted database URL with its user information and its
// query taken out (either may name a user, a password file or a
// certificate), or "" when it is not a URL (libpq key=value, file: DSNs):
// what is left is the scheme, the host and port, and the path.
func publicURL(redacted string) string {
	u, err := url.Parse(redacted)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return ""
	}
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.Host == "" && u.Path != "" {
		// sqlite:///file.db keeps its empty authority.
		return clean.Scheme + "://" + clean.EscapedPath()
	}
	return clean.String()
}
