/** Run: address allocations (IPAM), instances and deployments. */
export default `
`;
