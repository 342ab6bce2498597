/** The schema of one image's settings, shared by berth.yaml `images.<name>` and `images/<name>/image.yaml`. */
import { command, int, list, mapOf, object, optional, str, type Validator } from './schema.js';

export const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const IMAGE_NAME_HINT = 'a valid image name (lowercase letters, digits and single . _ - between them, like "jdk17" or "hello-node")';

const ENV_NAME = { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, hint: 'a valid environment variable name' };

const port: Validator<string> = (value, path, check) => {
  const text = typeof value === 'number' ? String(value) : value;
  return str({ pattern: /^\d{1,5}(\/(tcp|udp))?$/, hint: 'a port like 8080 or "53/udp"' })(text, path, check);
};

const absolutePath = str({ pattern: /^\//, hint: 'an absolute path inside the image, like /srv/app' });

export const rootShape = object({
  suite: optional(str({ pattern: /^[a-z][a-z0-9-]*$/, hint: 'a Debian suite name like "bookworm"' })),
  variant: optional(str({ pattern: /^(extract|custom|essential|apt|required|minbase|buildd|important|debootstrap|standard)$/, hint: 'an mmdebstrap variant such as minbase or apt' })),
  packages: optional(list(str({ pattern: /^[a-z0-9][a-z0-9+.-]*$/, hint: 'a Debian package name' }))),
  mirror: optional(str({ pattern: /^(https?|file):\/\//, hint: 'a mirror URL like http://deb.debian.org/debian' })),
  tarball: optional(str()),
});

export const imageShape = object({
  from: optional(str()),
  root: optional(rootShape),
  env: optional(mapOf(str({ nonEmpty: false }), ENV_NAME)),
  labels: optional(mapOf(str({ nonEmpty: false }))),
  ports: optional(list(port)),
  workdir: optional(absolutePath),
  user: optional(str({ pattern: /^[a-z_][a-z0-9_-]*(:[a-z_][a-z0-9_-]*)?$|^\d+(:\d+)?$/, hint: 'a user name or uid, optionally with :group' })),
  app: optional(
    object({
      path: { validate: str(), required: true },
      dest: optional(absolutePath),
    }),
  ),
  command: optional(command()),
});

export const buildShape = object({
  concurrency: optional(int({ min: 1, max: 64 })),
  mirror: optional(str({ pattern: /^(https?|file):\/\//, hint: 'a mirror URL like http://deb.debian.org/debian' })),
  proxy: optional(
    object({
      http: optional(str()),
      https: optional(str()),
      no_proxy: optional(str()),
    }),
  ),
  source_date_epoch: optional(int({ min: 0 })),
});
