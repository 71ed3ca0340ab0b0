// Runs one child process and measures its wall time and peak resident memory.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const GNU_TIME = '/usr/bin/time';

/** How peak RSS is measured here: GNU time's %M (exact), else polling /proc (may miss the last ms). */
export const rssMethod =
  fs.existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true']).status === 0
    ? '/usr/bin/time -f %M (max RSS of the child or any child it waited for)'
    : 'VmHWM of the child from /proc, polled every 20 ms';

/**
 * Runs `argv` and resolves { seconds, cpuSeconds, otherCores, peakRssMb, stdout, stderr }; rejects
 * when it exits non-zero. Wall time covers spawn to exit, as a user at a shell would see it; CPU time
 * (user + system, the child and its waited-for children) needs GNU time, else it is null.
 */
export async function runMeasured(argv, options = {}) {
  const useTime = rssMethod.startsWith(GNU_TIME);
  const rssFile = path.join(os.tmpdir(), `barge-bench-rss-${process.pid}-${Date.now()}`);
  const cmd = useTime ? [GNU_TIME, '-f', '%M %U %S', '-o', rssFile, ...argv] : argv;
  const busyBefore = busyCpuSeconds();
  const started = performance.now();
  const child = spawn(cmd[0], cmd.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let polledKb = 0;
  const poll = useTime ? null : setInterval(() => (polledKb = Math.max(polledKb, vmHwmKb(child.pid))), 20);
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  const busy = busyCpuSeconds() - busyBefore;
  if (poll) clearInterval(poll);
  let rssKb = polledKb;
  let cpuSeconds = null;
  if (useTime) {
    // GNU time writes "Command exited with non-zero status N" before the numbers on failure.
    const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
    const [kb, user, sys] = lines[lines.length - 1].split(' ').map(Number);
    rssKb = kb;
    cpuSeconds = user + sys;
    fs.rmSync(rssFile, { force: true });
  }
  if (code !== 0) {
    throw new Error(`${argv.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}`);
  }
  // CPU the rest of the machine used meanwhile, in cores: other work competing for the cores.
  const otherCores = cpuSeconds === null ? null : Math.max(0, (busy - cpuSeconds) / seconds);
  return { seconds, cpuSeconds, otherCores, peakRssMb: rssKb / 1024, stdout, stderr };
}

/** Seconds all CPUs spent busy since boot (/proc/stat: everything but idle and iowait). */
function busyCpuSeconds() {
  try {
    const fields = fs
      .readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

function vmHwmKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
