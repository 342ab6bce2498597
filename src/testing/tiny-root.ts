/**
 * A tiny root filesystem for fast integration tests: Debian's static busybox
 * plus the few files a container needs. Written as a tarball, imported like any root.
 */
import { createWriteStream, readFileSync, renameSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';

export const BUSYBOX = '/bin/busybox';

const APPLETS = [
  'sh', 'ash', 'cat', 'echo', 'env', 'false', 'grep', 'head', 'hostname', 'id', 'kill', 'ls', 'mkdir', 'nc', 'printf',
  'ps', 'rm', 'sed', 'setpriv', 'sleep', 'tail', 'test', 'touch', 'true', 'wc', 'wget', 'httpd', 'chmod', 'cp', 'date',
];

export async function writeTinyRoot(file: string): Promise<void> {
  const tar = pack();
  const mtime = new Date(0);
  for (const dir of ['bin', 'etc', 'tmp', 'run', 'root', 'proc', 'sys', 'dev', 'usr', 'usr/bin', 'var', 'var/www']) {
    tar.entry({ name: dir, type: 'directory', mode: dir === 'tmp' ? 0o1777 : 0o755, mtime });
  }
  tar.entry({ name: 'bin/busybox', mode: 0o755, mtime }, readFileSync(BUSYBOX));
  for (const applet of APPLETS) tar.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox', mode: 0o777, mtime });
  tar.entry({ name: 'usr/bin/env', type: 'symlink', linkname: '../../bin/busybox', mode: 0o777, mtime });
  tar.entry({ name: 'etc/passwd', mode: 0o644, mtime }, 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n');
  tar.entry({ name: 'etc/group', mode: 0o644, mtime }, 'root:x:0:\napp:x:1000:\n');
  tar.finalize();
  // Several test processes may write it at once: each writes its own file and renames it into place.
  const partial = `${file}.${process.pid}`;
  await pipeline(Readable.from(tar), createWriteStream(partial));
  renameSync(partial, file);
}
