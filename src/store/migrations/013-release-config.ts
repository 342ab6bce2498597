/** A release made through a server names the configuration version it was made with (NULL in-process). */
export default `
  ALTER TABLE releases ADD COLUMN config_version INTEGER;
`;
