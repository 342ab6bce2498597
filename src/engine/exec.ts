import { demultiplex, type ExecResult } from './containers.js';
import { guard } from './errors.js';
import { readBuffer, type EngineHttp } from './http.js';

/** Commands run inside a running container (POST /containers/{id}/exec, then /exec/{id}/start). */
export class ExecClient {
  constructor(
    private readonly http: EngineHttp,
    private readonly endpoint: string,
  ) {}

  /** Runs `cmd` in the container and collects its output and exit code. */
  async run(container: string, cmd: string[]): Promise<ExecResult> {
    const created = await guard(this.endpoint, `exec in ${container}`, () =>
      this.http.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, { body: { Cmd: cmd, AttachStdout: true, AttachStderr: true } }),
    );
    const response = await guard(this.endpoint, `exec in ${container}`, () => this.http.call('POST', `/exec/${created.Id}/start`, { body: { Detach: false, Tty: false } }));
    const output = demultiplex(await readBuffer(response));
    const info = await guard(this.endpoint, `exec in ${container}`, () => this.http.json<{ ExitCode: number | null }>('GET', `/exec/${created.Id}/json`));
    return { exitCode: info.ExitCode ?? -1, output };
  }
}
