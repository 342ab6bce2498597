/** Run: instances and deployments. */
export default `
`;
