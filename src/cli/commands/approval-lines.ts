/** How a promotion waiting for an approval reads (the server's answer to a promotion into a protected environment). */
export { approvalLines } from './approvals.js';
