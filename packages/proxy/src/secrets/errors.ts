/** A secret could not be fetched: startup stops with this message (never the secret's value). */
export class SecretSourceError extends Error {}
