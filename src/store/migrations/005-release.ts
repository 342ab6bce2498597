/** Release: releases, rollout journals and per service × environment locks. */
export default `
`;
