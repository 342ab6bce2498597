/** The schema of one image's settings, shared by berth.yaml `images.<name>` and `images/<name>/image.yaml`. */
import { command, imageEnvMap, int, list, mapOf, object, optional, pathInImage, str, type Validator } from './schema.js';

export const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const IMAGE_NAME_HINT = 'a valid image name (lowercase letters, digits and single . _ - between them, like "jdk17" or "hello-node")';

/** 8080, "8080/tcp" or "53/udp", with a port number from 1 to 65535. */
const port: Validator<string> = (value, path, check) => {
  const text = typeof value === 'number' ? String(value) : value;
  const checked = str({ pattern: /^\d+(\/(tcp|udp))?$/, hint: 'a port like 8080 or "53/udp"' })(text, path, check);
  if (checked === undefined) return undefined;
  const number = Number(checked.split('/')[0]);
  if (number < 1 || number > 65535) return check.report(path, `port ${number} is not between 1 and 65535`, 'use a port number from 1 to 65535, like 8080 or "53/udp"');
  return checked;
};

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
  env: optional(imageEnvMap()),
  labels: optional(mapOf(str({ nonEmpty: false }))),
  ports: optional(list(port)),
  workdir: optional(pathInImage()),
  user: optional(
    str({
      pattern: /^([a-z_][a-z0-9_-]*|\d+)(:([a-z_][a-z0-9_-]*|\d+))?$/,
      hint: 'a user name or uid, optionally with ":" and a group name or gid, like "app", "app:app" or "1000:1000"',
    }),
  ),
  app: optional(
    object({
      path: { validate: str(), required: true },
      dest: optional(pathInImage()),
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
