/**
 * Reads the engine's streamed answers (build, pull, push, import): JSON objects,
 * one a line, in HTTP chunks that may end anywhere — inside an object or inside
 * a multi-byte UTF-8 character.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

export type JsonMessage = Record<string, unknown>;

/** Calls `onMessage` with each object as it arrives; resolves with all of them at the end. */
export async function readJsonStream(stream: Readable, onMessage?: (m: JsonMessage) => void): Promise<JsonMessage[]> {
  const all: JsonMessage[] = [];
  const take = (text: string) => {
    const trimmed = text.trim();
    if (trimmed === '') return;
    try {
      const message = JSON.parse(trimmed) as JsonMessage;
      all.push(message);
      onMessage?.(message);
    } catch {
      // Lines are whole JSON objects (newlines inside are escaped); anything else is not a message.
    }
  };
  // Decoding each chunk on its own would turn a character split between two chunks into two U+FFFD.
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  for await (const chunk of stream) {
    buffer += typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) take(line);
  }
  take(buffer + decoder.end());
  return all;
}
