// The main job: the whole pipeline on this machine with simulated vehicles, alerts shown as they arrive.
// Run through `npm start` (which builds first). Ctrl-C stops every process it started, the local stack included.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
// The built library (npm start builds first), so this script and the notifier share one implementation.
import { endBrokerSession } from '../../dist/libs/mqtt/src/index.js';
import { verifyWebhook, type WebhookHeaders } from '../../dist/libs/webhooks/src/index.js';
import { stackDown, stackOptionsFromEnv, stackUp } from '../stack/local-stack.ts';
import {
  freePort,
  startApp,
  supervise,
  waitUntilReady,
  type AppName,
  type SupervisedApp,
} from './app-process.ts';

const logDirectory = join('.fleetlog', 'logs');
const gatewayClientId = 'fleetlog-main-gateway';
const keepStack = process.env.FLEETLOG_KEEP_STACK === '1';
const say = (line: string) => process.stdout.write(`${line}\n`);
// Ctrl-C also reaches a pipe reader (`npm start | tee …`): losing the terminal must not stop the clean-up.
process.stdout.on('error', () => undefined);

interface AlertEvent {
  type: string;
  data: {
    severity: string;
    ruleId: string;
    ruleVersion: number;
    vehicleId: string;
    message: string;
    raisedAt: string;
    clearedAt?: string;
  };
}

async function main(): Promise<void> {
  const stackOptions = { ...stackOptionsFromEnv(), log: (line: string) => say(`  stack: ${line}`) };
  const running: SupervisedApp[] = [];
  let mqttUrl: string | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      say('\nStopping…');
      for (const app of running.reverse()) await app.stop();
      // The simulated vehicles stopped with the job, so nothing is owed to its gateway; a session left on the broker
      // would queue every message tests publish after it, for good (see endBrokerSession).
      if (mqttUrl !== undefined) {
        await endBrokerSession(mqttUrl, gatewayClientId).catch((error: Error) =>
          say(`  could not end the gateway's broker session: ${error.message}`),
        );
      }
      if (!keepStack) await stackDown(stackOptions);
      say(
        keepStack ? 'Apps stopped; local stack left running (FLEETLOG_KEEP_STACK=1).' : 'Everything stopped.',
      );
    })());
  process.on('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.on('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  try {
    say('Starting the local stack (Kafka, Elasticsearch, Mosquitto) — the first run downloads them…');
    const endpoints = await stackUp(stackOptions);
    mqttUrl = endpoints.mqttUrl;
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const webhookUrl = await startWebhookReceiver(secret);
    // The api's bootstrap admin key: the one in the environment, or one made for this run and printed below.
    const adminKey = process.env.API_ADMIN_KEY ?? `flk_demo_${randomBytes(24).toString('base64url')}`;
    const shared = {
      KAFKA_BROKERS: endpoints.kafkaBrokers,
      ELASTICSEARCH_URL: endpoints.elasticsearchUrl,
      MQTT_URL: endpoints.mqttUrl,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    };
    mkdirSync(logDirectory, { recursive: true });
    const apps: Array<[AppName, NodeJS.ProcessEnv]> = [
      // Long enough for the supervisor to restart a crashed gateway with nothing lost; the session is ended on stop.
      ['gateway', { HTTP_PORT: '3001', MQTT_CLIENT_ID: gatewayClientId, GATEWAY_SESSION_EXPIRY_S: '600' }],
      ['cep', { HTTP_PORT: '3002' }],
      // The demo's receiver is on loopback, which the SSRF guard refuses unless told otherwise.
      [
        'notifier',
        {
          HTTP_PORT: '3003',
          WEBHOOK_URL: webhookUrl,
          WEBHOOK_SECRET: secret,
          WEBHOOK_ALLOW_PRIVATE_NETWORK: 'true',
        },
      ],
      ['api', { HTTP_PORT: '3000', API_ADMIN_KEY: adminKey }],
    ];
    for (const [name, env] of apps) {
      const app = launch(name, { ...shared, ...env });
      running.push(app);
      await waitUntilReady(app.current, `http://127.0.0.1:${env.HTTP_PORT}/health`);
      say(
        `  ${name.padEnd(9)} ready  http://127.0.0.1:${env.HTTP_PORT}/health  (log: ${join(logDirectory, `${name}.log`)})`,
      );
    }
    const vehicles = process.env.SIMULATOR_VEHICLES ?? '5';
    running.push(launch('simulator', { ...shared, SIMULATOR_VEHICLES: vehicles }));
    say(`\nPipeline running with ${vehicles} simulated vehicles. Alerts appear below as webhooks arrive.`);
    say(`Search them:  export API_ADMIN_KEY=${adminKey}`);
    say(
      '              curl -H "Authorization: Bearer $API_ADMIN_KEY" "http://127.0.0.1:3000/alerts?status=active"',
    );
    say('Stop: Ctrl-C\n');
  } catch (error) {
    say(`\nFailed to start: ${(error as Error).message}`);
    await stopAll();
    process.exit(1);
  }
}

/**
 * App output goes to its log file; only warnings and errors also reach the terminal. An app that fails is
 * started again.
 */
function launch(name: AppName, env: NodeJS.ProcessEnv): SupervisedApp {
  const log = createWriteStream(join(logDirectory, `${name}.log`), { flags: 'a' });
  return supervise(
    () =>
      startApp(name, env, (line) => {
        log.write(`${line}\n`);
        if (/"level":(40|50|60)/.test(line) || !line.startsWith('{')) say(`  ${name}: ${line}`);
      }),
    (ended) =>
      say(`  ${name} exited (code ${ended.child.exitCode ?? ended.child.signalCode}); starting it again`),
  );
}

/** Stands in for an operator's endpoint: verifies each webhook's signature and prints the alert. */
async function startWebhookReceiver(secret: string): Promise<string> {
  const port = await freePort();
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    const verified = verifyWebhook(secret, request.headers as unknown as WebhookHeaders, body, new Date());
    response.writeHead(verified ? 204 : 401).end();
    if (verified) printAlert(JSON.parse(body) as AlertEvent);
    else say('  webhook with an invalid signature refused');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${port}/fleetlog-alerts`;
}

function printAlert({ type, data }: AlertEvent): void {
  const when = (data.clearedAt ?? data.raisedAt).slice(11, 19);
  const marker = type === 'alert.active' ? 'ALERT  ' : 'cleared';
  say(
    `${when}  ${marker} [${data.severity}] ${data.ruleId}@${data.ruleVersion} ${data.vehicleId}: ${data.message}`,
  );
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

void main();
