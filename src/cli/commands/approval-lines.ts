/** How a promotion waiting for an approval reads (the server's answer to a promotion into a protected environment). */
import type { RolloutAnswer } from '../remote.js';

export function approvalLines(approval: NonNullable<RolloutAnswer['approval']>): string[] {
  return [
    `approval #${approval.id} ${approval.status}: promote ${approval.service} to ${approval.environment}, asked by ${approval.requestedBy} (expires ${approval.expiresAt})`,
    `  ${approval.environment} is protected: another token with rights on ${approval.environment} approves it: berth approve ${approval.id} (or berth reject ${approval.id})`,
  ];
}
