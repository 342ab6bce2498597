/** Run: address allocations of flat networks (IPAM). */
export default `
`;
