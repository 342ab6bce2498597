/**
 * A server's event stream (`GET /v1/events`, server-sent events) as a test reads it: every frame's
 * event and data, until `stop`; `opened` is the status the server answered (0: no answer).
 */
import { get } from 'node:http';

export interface StreamedEvent {
  event: string;
  data: string;
}

export function collectEvents(url: string, token: string, onEvent: (e: StreamedEvent) => void = () => {}): { events: StreamedEvent[]; opened: Promise<number>; stop: () => void } {
  const events: StreamedEvent[] = [];
  let answered: (status: number) => void = () => {};
  const opened = new Promise<number>((resolve) => (answered = resolve));
  const request = get(`${url}/v1/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
    answered(res.statusCode ?? 0);
    let buffer = '';
    res.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (!event || !data) continue;
        events.push({ event, data });
        onEvent({ event, data });
      }
    });
  });
  // The stream ends when its server is killed; what it carried until then is what the test reads.
  request.on('error', () => answered(0));
  return { events, opened, stop: () => request.destroy() };
}
