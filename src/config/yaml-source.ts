import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { BerthErrors, invalid } from '../errors.js';

export type KeyPath = ReadonlyArray<string | number>;

/** A parsed YAML file that can say on which line any key path stands. */
export class YamlSource {
  readonly file: string;
  readonly value: unknown;
  private readonly doc: Document;
  private readonly lines: LineCounter;

  private constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
    this.value = doc.toJS({ maxAliasCount: 100 }) ?? {};
  }

  /** Parses YAML text; syntax errors become one `invalid` error per problem, with line numbers. */
  static parse(file: string, text: string): YamlSource {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      throw new BerthErrors(
        doc.errors.map((e) => {
          const line = e.linePos?.[0]?.line ?? (e.pos ? lines.linePos(e.pos[0]).line : undefined);
          return invalid(`${file}${line ? `:${line}` : ''}: not valid YAML: ${firstLine(e.message)}`, {
            fix: 'correct the YAML syntax at that line (indentation, a missing colon or quote)',
          });
        }),
      );
    }
    return new YamlSource(file, doc, lines);
  }

  /** The 1-based line of the key (or item) at `path`, or of its nearest existing ancestor. */
  lineOf(path: KeyPath): number | undefined {
    let node: unknown = this.doc.contents;
    let line = startLine(node, this.lines);
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) return line;
        line = startLine(pair.key, this.lines) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        if (item === undefined) return line;
        line = startLine(item, this.lines) ?? line;
        node = item;
      } else {
        return line;
      }
    }
    return line;
  }

  /** "file:line" for a key path, for error messages. */
  where(path: KeyPath): string {
    const line = this.lineOf(path);
    return line === undefined ? this.file : `${this.file}:${line}`;
  }
}

function startLine(node: unknown, lines: LineCounter): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
