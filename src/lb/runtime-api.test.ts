import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { HaproxyRuntime, lbServerOf, parseShowStat, splitCsvLine, stateOfStatus } from './runtime-api.js';

/**
 * "show stat" of HAProxy 2.6.12 captured from a front door with a ready, a
 * draining, a maintenance and an IPv6 server, a server nothing listens on
 * ("gone": every request redispatched) and one that closes connections without
 * answering ("rude": every request retried), after 30 requests
 * (13 2xx, 6 3xx, 6 4xx, 5 5xx).
 */
const SHOW_STAT = [
  '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,',
  'fe,FRONTEND,,,0,2,9986,30,1614,3270,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,30,0,30,,,,0,13,6,6,5,0,,30,30,30,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,30,30,30,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,30,30,1854,3774,0,0,',
  'be,hello-node-production-1,0,0,0,1,,12,651,1331,,0,,0,0,0,0,no check,100,1,0,,,0,,,1,3,1,,12,,2,12,,12,,,,0,3,4,3,2,0,,,,12,0,0,,,,,0,,,1,0,3,4,,,,,,,,,,,,127.0.0.1:43823,,http,,,,,,,,0,1,11,,,1,,7,0,11,11,0,0,1,0,1,100,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'be,hello-node-production-2,0,0,0,1,,5,260,510,,0,,0,0,0,0,DRAIN,50,1,0,,,0,,,1,3,2,,5,,2,5,,5,,,,0,5,0,0,0,0,,,,5,0,0,,,,,0,,,1,0,2,3,,,,,,,,,,,,127.0.0.1:37031,,http,,,,,,,,0,1,4,,,1,,5,0,4,5,0,0,1,0,1,50,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'be,hello-node-production-3,0,0,0,1,,12,648,1326,,0,,0,0,0,0,MAINT,100,1,0,,,0,,,1,3,3,,12,,2,12,,12,,,,0,4,2,3,3,0,,,,12,0,0,,,,,0,,,0,1,4,4,,,,,,,,,,,,127.0.0.1:43823,,http,,,,,,,,0,1,11,,,0,,0,1,15,15,0,0,0,0,1,100,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'be,hello-node-production-4,0,0,0,1,,1,55,103,,0,,0,0,0,0,no check,10,1,0,,,0,,,1,3,4,,1,,2,1,,1,,,,0,1,0,0,0,0,,,,1,0,0,,,,,0,,,0,0,0,0,,,,,,,,,,,,[::1]:41093,,http,,,,,,,,0,1,0,,,1,,0,0,0,0,0,1,0,0,1,10,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'be,gone,0,0,0,1,,11,0,0,,0,,0,0,0,11,no check,100,1,0,,,0,,,1,3,5,,11,,2,11,,11,,,,0,0,0,0,0,0,,,,0,0,0,,,,,0,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:1,,http,,,,,,,,0,11,0,,,0,,0,0,0,0,0,0,0,0,1,100,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'be,rude,0,0,0,1,,11,0,0,,0,,0,0,11,11,no check,100,1,0,,,0,,,1,3,6,,11,,2,11,,11,,,,0,0,0,0,0,0,,,,0,0,0,,,,,0,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:42439,,http,,,,,,,,0,11,0,,,0,,0,0,0,0,0,0,0,0,1,100,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,',
  'be,BACKEND,0,0,0,2,999,30,1614,3270,0,0,,0,0,11,22,UP,310,4,0,,0,0,0,,1,3,0,,52,,1,30,,30,,,,0,13,6,6,5,0,,,,30,0,0,0,0,0,0,0,,,1,1,3,3,,,,,,,,,,,,,,http,roundrobin,,,,,,,0,26,26,0,0,,,7,1,15,15,0,,,,,310,0,0,0,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,3,0,26,52,3924,2901,0,0,',
].join('\n') + '\n\n';

describe('parseShowStat', () => {
  const stats = parseShowStat(SHOW_STAT);

  it('reads every server of the backend with its state, weight and address', () => {
    assert.deepEqual(
      stats.servers.map((s) => [s.name, s.status, s.state, s.weight, s.address]),
      [
        ['hello-node-production-1', 'no check', 'ready', 100, '127.0.0.1:43823'],
        ['hello-node-production-2', 'DRAIN', 'drain', 50, '127.0.0.1:37031'],
        ['hello-node-production-3', 'MAINT', 'maint', 100, '127.0.0.1:43823'],
        ['hello-node-production-4', 'no check', 'ready', 10, '[::1]:41093'],
        ['gone', 'no check', 'ready', 100, '127.0.0.1:1'],
        ['rude', 'no check', 'ready', 100, '127.0.0.1:42439'],
      ],
    );
  });

  it('reads a server\'s counters', () => {
    assert.deepEqual(stats.servers[0], {
      name: 'hello-node-production-1',
      address: '127.0.0.1:43823',
      status: 'no check',
      state: 'ready',
      weight: 100,
      current: 0,
      total: 12,
      requests: 12,
      responses: { '2xx': 3, '3xx': 4, '4xx': 3, '5xx': 2, other: 0 },
      errors: { connect: 0, response: 0, retried: 0, redispatched: 0 },
    });
    // Failures hidden from clients by retries still show on the server that failed.
    const rude = stats.servers.find((s) => s.name === 'rude')!;
    const gone = stats.servers.find((s) => s.name === 'gone')!;
    assert.deepEqual([rude.total, rude.requests, rude.errors], [11, 0, { connect: 0, response: 0, retried: 11, redispatched: 11 }]);
    assert.deepEqual([gone.total, gone.requests, gone.errors], [11, 0, { connect: 0, response: 0, retried: 0, redispatched: 11 }]);
  });

  it('reads the frontend (what clients got) and the backend with its retries', () => {
    assert.deepEqual(stats.frontend, {
      status: 'OPEN',
      current: 0,
      total: 30,
      requests: 30,
      responses: { '2xx': 13, '3xx': 6, '4xx': 6, '5xx': 5, other: 0 },
      errors: { request: 0, connect: 0, response: 0 },
      retries: 0,
      redispatches: 0,
    });
    assert.equal(stats.backend.status, 'UP');
    assert.deepEqual([stats.backend.retries, stats.backend.redispatches, stats.backend.requests], [11, 22, 30]);
    const served = stats.servers.reduce((sum, s) => sum + s.responses['2xx'], 0);
    assert.equal(served, stats.frontend.responses['2xx']);
  });

  it('turns reported servers back into spec servers, IPv6 without brackets', () => {
    assert.deepEqual(stats.servers.slice(1, 4).map(lbServerOf), [
      { name: 'hello-node-production-2', address: '127.0.0.1', port: 37031, weight: 50, state: 'drain' },
      { name: 'hello-node-production-3', address: '127.0.0.1', port: 43823, weight: 100, state: 'maint' },
      { name: 'hello-node-production-4', address: '::1', port: 41093, weight: 10, state: 'ready' },
    ]);
  });

  it('ignores other proxies and fails without the CSV header', () => {
    const other = SHOW_STAT.replace(/^be,gone,/m, 'stats,gone,');
    assert.ok(!parseShowStat(other).servers.some((s) => s.name === 'gone'));
    assert.throws(() => parseShowStat('Unknown command\n'), (e: unknown) => isBerthError(e) && e.kind === 'failed');
  });

  it('splits quoted CSV fields and maps statuses to states', () => {
    assert.deepEqual(splitCsvLine('a,"b,c",,"say ""hi"""'), ['a', 'b,c', '', 'say "hi"']);
    assert.deepEqual(['UP', 'no check', 'DRAIN', 'MAINT', 'MAINT (via be/x)', 'DOWN'].map(stateOfStatus), ['ready', 'ready', 'drain', 'maint', 'maint', 'ready']);
  });
});

/** A stand-in HAProxy: records each command and answers from a function. */
describe('HaproxyRuntime against a stand-in HAProxy', () => {
  const received: string[] = [];
  /** Each round trip's commands: what costs an exec on a door. */
  const batches: string[][] = [];
  let answer: (command: string) => string = () => '';
  const runtime = new HaproxyRuntime(async (commands) => {
    batches.push([...commands]);
    received.push(...commands);
    return commands.map((command) => answer(command) + '\n');
  });
  const reset = (fn: (command: string) => string) => {
    received.length = 0;
    batches.length = 0;
    answer = fn;
  };

  it('adds a dynamic server and enables it (HAProxy 2.6 starts it in maintenance)', async () => {
    reset((c) => (c.startsWith('add server') ? 'New server registered.\n' : ''));
    await runtime.addServer({ name: 'hello-node-production-4', address: '10.88.0.14', port: 8080, weight: 20, state: 'ready' });
    await runtime.addServer({ name: 'v6', address: 'fd00::4', port: 8080, weight: 1, state: 'drain' });
    await runtime.addServer({ name: 'off', address: '10.88.0.15', port: 8080, weight: 1, state: 'maint' });
    assert.deepEqual(received, [
      'add server be/hello-node-production-4 10.88.0.14:8080 weight 20',
      'set server be/hello-node-production-4 state ready',
      'add server be/v6 [fd00::4]:8080 weight 1',
      'set server be/v6 state drain',
      'add server be/off 10.88.0.15:8080 weight 1',
    ]);
  });

  it('maps HAProxy\'s answers to error categories', async () => {
    reset((c) => (c.startsWith('add') ? 'Already exists a server with the same name in backend.' : c.startsWith('set weight') ? 'Absolute weight can only be between 0 and 256 inclusive.' : 'No such server.'));
    await assert.rejects(runtime.addServer({ name: 'a', address: '10.0.0.1', port: 80, weight: 1, state: 'ready' }), (e: unknown) => isBerthError(e) && e.kind === 'conflict');
    await assert.rejects(runtime.setWeight('a', 300), (e: unknown) => isBerthError(e) && e.kind === 'failed' && /between 0 and 256/.test(e.message));
    await assert.rejects(runtime.setState('nope', 'drain'), (e: unknown) => isBerthError(e) && e.kind === 'not-found');
  });

  it('removes a server: maintenance, wait for its requests, delete (again while connections close)', async () => {
    let deletes = 0;
    let scur = 2;
    reset((c) => {
      if (c === 'show stat') return SHOW_STAT.replace(/^(be,gone,0,0,)0/m, `$1${scur > 0 ? scur-- : 0}`);
      if (c.startsWith('del server')) return ++deletes < 3 ? 'Server still has connections attached to it, cannot remove it.' : 'Server deleted.';
      return '';
    });
    assert.equal(await runtime.removeServer('gone', 5000), true);
    assert.deepEqual(received.filter((c) => c !== 'show stat'), ['set server be/gone state maint', 'del server be/gone', 'del server be/gone', 'del server be/gone']);
    assert.equal(received.filter((c) => c === 'show stat').length, 3);
  });

  it('cuts the requests still running after the timeout, and treats a missing server as removed', async () => {
    reset((c) => (c === 'show stat' ? SHOW_STAT.replace(/^(be,gone,0,0,)0/m, '$11') : c.startsWith('del') ? 'Server deleted.' : ''));
    assert.equal(await runtime.removeServer('gone', 150), false);
    assert.ok(received.includes('shutdown sessions server be/gone'));
    reset(() => 'No such server.');
    assert.equal(await runtime.removeServer('ghost'), true);
    assert.deepEqual(received, ['set server be/ghost state maint']);
  });

  it('makes a whole plan in one round trip, removals in two more once their requests are done', async () => {
    reset((c) => (c.startsWith('add server') ? 'New server registered.' : c === 'show stat' ? SHOW_STAT : c.startsWith('del server') ? 'Server deleted.' : ''));
    const cut = await runtime.apply([
      { op: 'add', server: { name: 'new', address: '10.88.0.16', port: 8080, weight: 5, state: 'ready' } },
      { op: 'weight', name: 'hello-node-production-1', weight: 50 },
      { op: 'state', name: 'hello-node-production-2', state: 'ready' },
      { op: 'address', name: 'rude', address: '10.88.0.17', port: 8080 },
      { op: 'remove', name: 'gone' },
    ]);
    assert.deepEqual(cut, []);
    assert.deepEqual(batches, [
      [
        'add server be/new 10.88.0.16:8080 weight 5',
        'set server be/new state ready',
        'set weight be/hello-node-production-1 50',
        'set server be/hello-node-production-2 state ready',
        'set server be/rude addr 10.88.0.17 port 8080',
        'set server be/gone state maint',
      ],
      ['show stat'],
      ['del server be/gone'],
    ]);
  });

  it('reports the first refused command of a batch, and needs no removal round trips when nothing is removed', async () => {
    reset((c) => (c.startsWith('set weight be/b') ? 'No such server.' : ''));
    await assert.rejects(
      runtime.apply([{ op: 'weight', name: 'a', weight: 1 }, { op: 'weight', name: 'b', weight: 2 }, { op: 'weight', name: 'c', weight: 3 }]),
      (e: unknown) => isBerthError(e) && e.kind === 'not-found' && /set weight be\/b 2/.test(e.message),
    );
    assert.deepEqual(batches, [['set weight be/a 1', 'set weight be/b 2', 'set weight be/c 3']]);
  });
});
