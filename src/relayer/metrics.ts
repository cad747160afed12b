/**
 * Metrics through an injected prom-client: pass the module (`import * as promClient from
 * "prom-client"`) and a `Registry` of yours. Nothing is registered globally, and the package does
 * not depend on prom-client.
 */

type Labels = Record<string, string>;

/** The parts of prom-client the relayer uses. */
export type PromClientLike = {
  Counter: new (config: {
    name: string;
    help: string;
    labelNames: string[];
    registers: never[];
  }) => { inc(labels: Labels, value?: number): void };
  Histogram: new (config: {
    name: string;
    help: string;
    labelNames: string[];
    buckets: number[];
    registers: never[];
  }) => { observe(labels: Labels, value: number): void };
};

/** Options of the relayer's metrics. */
export type RelayerMetricsOptions = {
  /** The prom-client module. */
  readonly client: PromClientLike;
  /** The registry the metrics register in (never the global one). */
  readonly registry: unknown;
  /** Prefix of every metric name (default `agent_escrow_relayer_`). */
  readonly prefix?: string;
};

/** What the relayer records. */
export type RelayerMetrics = {
  jobAccepted(chainId: number): void;
  jobFinished(chainId: number, status: string, reason: string | null, seconds: number): void;
  broadcast(chainId: number, outcome: string): void;
  passFailed(chainId: number): void;
};

/** Metrics that record nothing (when none are injected). */
export const NO_METRICS: RelayerMetrics = {
  jobAccepted: () => undefined,
  jobFinished: () => undefined,
  broadcast: () => undefined,
  passFailed: () => undefined,
};

/** Create the relayer's counters and histogram in the injected registry. */
export function relayerMetrics(options: RelayerMetricsOptions): RelayerMetrics {
  const prefix = options.prefix ?? "agent_escrow_relayer_";
  // prom-client takes the registry as `Registry[]`; it is the caller's, typed by its own module.
  const registers = [options.registry] as never[];
  const accepted = new options.client.Counter({
    name: `${prefix}jobs_accepted_total`,
    help: "Activation jobs accepted (new ones only; resubmissions return the same job).",
    labelNames: ["chain"],
    registers,
  });
  const finished = new options.client.Counter({
    name: `${prefix}jobs_finished_total`,
    help: "Activation jobs that ended, by status and reason.",
    labelNames: ["chain", "status", "reason"],
    registers,
  });
  const seconds = new options.client.Histogram({
    name: `${prefix}job_seconds`,
    help: "Seconds from a job's acceptance to its end.",
    labelNames: ["chain", "status"],
    buckets: [1, 2, 5, 10, 30, 60, 120, 300, 900],
    registers,
  });
  const broadcasts = new options.client.Counter({
    name: `${prefix}broadcasts_total`,
    help: "Broadcasts of stored transactions, by how the node answered.",
    labelNames: ["chain", "outcome"],
    registers,
  });
  const passFailures = new options.client.Counter({
    name: `${prefix}pass_failures_total`,
    help: "Pipeline passes that failed (node or store unavailable); the next pass resumes.",
    labelNames: ["chain"],
    registers,
  });
  return {
    jobAccepted: (chainId) => accepted.inc({ chain: String(chainId) }),
    jobFinished: (chainId, status, reason, s) => {
      finished.inc({ chain: String(chainId), status, reason: reason ?? "" });
      seconds.observe({ chain: String(chainId), status }, s);
    },
    broadcast: (chainId, outcome) => broadcasts.inc({ chain: String(chainId), outcome }),
    passFailed: (chainId) => passFailures.inc({ chain: String(chainId) }),
  };
}
