import { LogLevel, type Logger } from '@slack/bolt';
import { redact, type SlackSecrets } from './config';

const ORDER: LogLevel[] = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR];

/**
 * Bolt's logger, writing one line per message through `write` with every token-shaped string redacted (Bolt logs
 * request bodies at debug level; slash commands carry a verification token). Level from `SLACK_LOG_LEVEL`.
 */
export function botLogger(opts: { secrets?: SlackSecrets; level?: LogLevel; write?: (line: string) => void } = {}): Logger {
  let level = opts.level ?? LogLevel.INFO;
  let name = 'talos-fleet-bot';
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const at = (l: LogLevel) => (...msg: unknown[]) => {
    if (ORDER.indexOf(l) < ORDER.indexOf(level)) return;
    const text = msg.map((m) => (m instanceof Error ? (m.stack ?? m.message) : typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
    write(redact(`${new Date().toISOString()} ${l} ${name}: ${text}`, opts.secrets));
  };
  return {
    debug: at(LogLevel.DEBUG),
    info: at(LogLevel.INFO),
    warn: at(LogLevel.WARN),
    error: at(LogLevel.ERROR),
    setLevel: (l) => void (level = l),
    getLevel: () => level,
    setName: (n) => void (name = n),
  };
}
