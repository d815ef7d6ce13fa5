/** Muster's version, reported as the agent's Version (Consul-style "x.y.z"). */
export const VERSION = '0.1.0';
