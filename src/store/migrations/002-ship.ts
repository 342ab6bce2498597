/** Ship: pushes to the registry and the references its garbage collection must keep. */
export default `
`;
