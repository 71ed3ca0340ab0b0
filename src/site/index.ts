/**
 * Worker nodes: the WLCG container baseline. `checkSite` reads a node (through a SiteHost, so a
 * captured node's files and command outputs stand in for a live one) and reports one finding per
 * check and a verdict: unprivileged user namespaces (Apptainer runs from CVMFS), a local setuid
 * Apptainer with underlay or overlay, or neither. `siteRun` runs a command in an unpacked image
 * with the runtime the baseline prefers on this node, reports which and why, tells the
 * container's mode from its uid_map, and passes the exit status through.
 */

export type { ContainerMode } from './container-mode.js';
export { modeFromUidMap } from './container-mode.js';
export type { Finding, FindingStatus } from './finding.js';
export type { RuntimeName, RuntimePreference } from './runtime-choice.js';
export type { BaselineCase, SiteReport, Verdict } from './site-check.js';
export { checkSite } from './site-check.js';
export type { Capture, CommandResult, SiteHost } from './site-host.js';
export { capturedHost, liveHost } from './site-host.js';
export type { RunReport, SiteRunOptions } from './site-run.js';
export { siteRun } from './site-run.js';
