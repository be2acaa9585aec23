// Package deploy holds what runs the platform in production besides the
// binaries: nginx.conf, the reverse proxy in front of the stateless examd
// API replicas (load balancing, passive health checks, retries of requests
// that are safe to replay, body limits, JSON errors). Its tests run the file
// with a real nginx; deploy/nginxtest lets other tests do the same.
package deploy

import _ "embed"

//go:embed nginx.conf
var nginxConf string

// NginxConf returns deploy/nginx.conf. It includes upstreams.conf and
// listen.conf from its own directory: see the comment at its top.
func NginxConf() string { return nginxConf }
