/** berth.yaml `registry:` and `retention:` (Ship). */
import { duration, int, object, optional, required, secretRef, str } from './schema.js';

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
  tls: optional(object({ cert: required(str()), key: required(str()) })),
});

export const retentionShape = object({
  keep_last: optional(int({ min: 1, max: 1000 })),
  keep_younger_than: optional(duration()),
  keep_releases: optional(int({ min: 1, max: 100 })),
});
