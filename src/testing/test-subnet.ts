import { randomInt } from 'node:crypto';

/**
 * The first three octets of a random /24 in 10.210-239.x for an integration file's flat
 * network. Labs take theirs from 10.240-250 (lab-plan.ts pickFreeSubnet), so a lab beside
 * such a file never picks the same LAN.
 */
export function randomTestPrefix(): string {
  return `10.${randomInt(210, 240)}.${randomInt(0, 250)}`;
}
