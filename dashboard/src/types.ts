// The shapes the dashboard reads from the service's /api (see the dashboard README for the contract).

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "poisoned"] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: readonly string[] = ["succeeded", "failed", "poisoned"];

export interface StageDurations {
  download: number | null;
  transcode: number | null;
  upload: number | null;
}

export interface JobSummary {
  id: string;
  state: string;
  stage: string | null;
  progress: number | null;
  source_name: string | null;
  source_container: string | null;
  submitted_at: string | null;
  updated_at: string | null;
  finished_at: string | null;
  attempts: number | null;
  encoder: string | null;
  fallback_reason: string | null;
  error: string | null;
  durations: StageDurations | null;
}

export interface JobPage {
  items: JobSummary[];
  next: string | null;
}

export interface VmafScores {
  mean: number;
  harmonic_mean?: number;
  p5: number;
  min?: number;
  count?: number;
  model?: string;
  subsample?: number;
  device?: string;
  alignment?: string;
  warnings?: string[];
  /** Where the per-frame series is published, relative to the package. */
  series?: string | null;
}

export interface Rendition {
  name: string;
  width: number;
  height: number;
  codec?: string;
  encoder?: string;
  frame_rate?: string;
  target_bitrate?: number;
  max_bitrate?: number;
  measured_bitrate?: number;
  peak_bitrate?: number;
  size_bytes?: number;
  min_vmaf?: number | null;
  vmaf?: VmafScores | null;
  quality?: string;
}

export interface Manifest {
  schema?: string;
  source: Record<string, unknown>;
  profile?: string;
  codec?: string;
  encoder?: string;
  encoder_kind?: string;
  fallback_reason?: string | null;
  hls?: string;
  dash?: string;
  poster?: string | null;
  renditions: Rendition[];
  quality_policy?: string;
  quality?: { measured?: boolean; reason?: string | null; sampling?: string | null; model?: string | null };
  flagged?: string[];
  timings?: Record<string, number>;
}

export interface JobLinks {
  manifest: string | null;
  hls: string | null;
  dash: string | null;
  poster: string | null;
  quality: Record<string, string> | null;
}

export interface JobDetail {
  job: JobSummary & { record?: Record<string, unknown> };
  manifest: Manifest | null;
  links: JobLinks | null;
}

/** Per-frame VMAF: item i is frame `index[i]` where the series carries its frame numbers (sampled windows), else
 * frame `i * subsample`. */
export interface VmafSeries {
  frames: Array<number | null>;
  subsample: number;
  index?: number[];
  rendition?: string;
  sampling?: string;
}

export interface PoisonItem {
  message_id: string;
  job_id: string | null;
  reason: string | null;
  inserted_on: string | null;
  dequeue_count: number | null;
}

export interface UploadTicket {
  blob: string;
  container: string;
  upload_url: string;
  expires_at: string | null;
}

export interface RetryResult {
  job_id: string;
  state: string;
}

export interface Worker {
  instance: string;
  service: string | null;
  up: boolean | null;
  jobs_inprogress: number | null;
  slots: number | null;
  draining: boolean | null;
}

export interface Fleet {
  workers: Worker[];
  gpu_utilization: number | null;
  encoder_utilization: number | null;
  nvenc_sessions: number | null;
  fallbacks: Record<string, number | null> | null;
  queue_depth: number | null;
  jobs_last_hour: Record<string, number | null> | null;
}
