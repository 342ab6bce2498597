/** berth.yaml `registry:` and `retention:` (Ship). */
import { describe, duration, int, object, optional, required, secretRef, str, type Validator } from './schema.js';

const tlsFiles = object({ cert: required(str()), key: required(str()), ca: optional(str()) });

/** `tls: { cert, key, ca? }` (the user's files) or `tls: generate` (Berth makes a CA and a certificate). */
function tlsSetting(): Validator<{ cert?: string; key?: string; ca?: string } | 'generate'> {
  return (value, path, check) => {
    if (value === 'generate') return 'generate';
    if (typeof value === 'string' || typeof value !== 'object') {
      return check.report(path, `expected "generate" or a mapping { cert, key, ca }, got ${describe(value)}`, 'write tls: generate, or tls: { cert: server.crt, key: server.key }');
    }
    return tlsFiles(value, path, check);
  };
}

export const registryShape = object({
  listen: optional(str({ pattern: /^[^:\s]+:\d{1,5}$/, hint: 'host:port, like 127.0.0.1:5000' })),
  storage: optional(
    object({
      filesystem: optional(object({ path: optional(str()) })),
      s3: optional(
        object({
          endpoint: required(str({ pattern: /^https?:\/\//, hint: 'a URL like http://127.0.0.1:9000' })),
          bucket: required(str()),
          region: optional(str()),
          access_key: required(secretRef()),
          secret_key: required(secretRef()),
          root_directory: optional(str()),
        }),
      ),
    }),
  ),
  secret: optional(secretRef()),
  htpasswd: optional(str()),
  username: optional(str()),
  password: optional(secretRef()),
  tls: optional(tlsSetting()),
});

export const retentionShape = object({
  keep_last: optional(int({ min: 1, max: 1000 })),
  keep_younger_than: optional(duration()),
  keep_releases: optional(int({ min: 1, max: 100 })),
});
