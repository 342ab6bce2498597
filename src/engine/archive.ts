import { extract } from 'tar-stream';

/** The first regular file of a tar archive (what the engine's archive endpoint sends for one path), as text. */
export async function firstFileOf(tar: Buffer): Promise<string> {
  const unpack = extract();
  unpack.end(tar);
  let text: string | undefined;
  for await (const entry of unpack) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (text === undefined && entry.header.type === 'file') text = Buffer.concat(chunks).toString('utf8');
  }
  return text ?? '';
}
