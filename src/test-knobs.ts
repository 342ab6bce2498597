/**
 * Variables that only Berth's own tests set, each named BERTH_TEST_… so that
 * nobody sets one by accident; `berth doctor` warns when one is set.
 */
export const TEST_KNOB_PREFIX = 'BERTH_TEST_';

export const TEST_KNOBS = {
  /** <n>: Berth kills itself (SIGKILL) at the n-th checkpoint of a rollout (fault.ts). */
  faultKillAt: 'BERTH_TEST_FAULT_KILL_AT',
  /** Runs this program instead of haproxy for front doors. */
  haproxyBin: 'BERTH_TEST_HAPROXY_BIN',
  /** Runs this program instead of docker-registry for the embedded registry. */
  registryBin: 'BERTH_TEST_REGISTRY_BIN',
} as const;

const WHAT: Record<string, string> = {
  [TEST_KNOBS.faultKillAt]: 'kills Berth in the middle of a rollout',
  [TEST_KNOBS.haproxyBin]: 'front doors run another program than haproxy',
  [TEST_KNOBS.registryBin]: 'the registry runs another program than docker-registry',
};

/** Every BERTH_TEST_ variable set (not empty) in env, with what it does when Berth knows it. */
export function testKnobsSet(env: NodeJS.ProcessEnv): { name: string; value: string; effect?: string }[] {
  return Object.entries(env)
    .filter((entry): entry is [string, string] => entry[0].startsWith(TEST_KNOB_PREFIX) && entry[1] !== undefined && entry[1] !== '')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => (WHAT[name] ? { name, value, effect: WHAT[name] } : { name, value }));
}
