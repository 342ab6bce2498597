/** A release's progress lines (`[i/n] …`) and those of them that changed an instance: every step but the door's, the release's record and convergence. A no-op release has none of the latter. */
export function releaseSteps(stdout: string): { steps: string[]; changed: string[] } {
  const steps = stdout.split('\n').filter((l) => /^\[\d+\/\d+\]/.test(l));
  return { steps, changed: steps.filter((s) => !/front door|record release|converge/i.test(s)) };
}
