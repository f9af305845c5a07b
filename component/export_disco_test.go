package component

import "context"

// UploadService finds domain's XEP-0363 upload service through service
// discovery, as attaching a legacy file does: its JID and the size limit
// it announces (0 for none).
func UploadService(ctx context.Context, c *Component, domain string) (string, int64, error) {
	svc, err := c.uploadServiceOf(ctx, domain)
	return svc.jid, svc.maxSize, err
}
