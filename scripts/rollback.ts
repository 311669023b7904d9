// `npm run rollback`: puts a server's `live` alias (infra/endpoint/canary.ts) back on the version
// before, with the AWS SDK's Lambda client and the credentials of the environment. During a shift
// (the alias still weighs the new version in) it sends all traffic back to the old version at once
// and prints the command that stops the CodeDeploy deployment, which would otherwise shift again
// (the kit does not bundle a CodeDeploy client). After a finished release it moves the alias to the
// highest version below the live one, or to --to. The stack's RollbackCommand output fills the flags.
//
//   npm run rollback -- --function <name> [--alias live] [--to <version>]
//                       [--application <CodeDeploy application> --deployment-group <group>] [--region <region>]
// Exit codes: 0 done, 1 failed, 2 bad usage.
import { parseArgs } from 'node:util';
import { GetAliasCommand, LambdaClient, ListVersionsByFunctionCommand, UpdateAliasCommand } from '@aws-sdk/client-lambda';

const USAGE = `usage: npm run rollback -- --function <name> [--alias live] [--to <version>]
                           [--application <app> --deployment-group <group>] [--region <region>]`;

class UsageError extends Error {}

interface Options {
  functionName: string;
  alias: string;
  to?: string;
  application?: string;
  deploymentGroup?: string;
  region?: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      function: { type: 'string' },
      alias: { type: 'string', default: 'live' },
      to: { type: 'string' },
      application: { type: 'string' },
      'deployment-group': { type: 'string' },
      region: { type: 'string' },
    },
  });
  if (!values.function) throw new UsageError("--function is required: the stack's RollbackCommand output gives it");
  if (values.to !== undefined && !/^\d+$/.test(values.to)) throw new UsageError(`--to must be a published version number, got "${values.to}"`);
  return {
    functionName: values.function,
    alias: values.alias,
    to: values.to,
    application: values.application,
    deploymentGroup: values['deployment-group'],
    region: values.region,
  };
}

/** The function's published version numbers, ascending ($LATEST left out). */
async function publishedVersions(lambda: LambdaClient, functionName: string): Promise<number[]> {
  const versions: number[] = [];
  let marker: string | undefined;
  do {
    const page = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: functionName, Marker: marker }));
    for (const { Version } of page.Versions ?? []) if (Version && /^\d+$/.test(Version)) versions.push(Number(Version));
    marker = page.NextMarker;
  } while (marker);
  return versions.sort((a, b) => a - b);
}

/** The command that stops the group's deployment in progress, rolling it back (CodeDeploy's own rollback). */
function stopDeploymentCommand(options: Options): string {
  const region = options.region ? ` --region ${options.region}` : '';
  const app = options.application ?? '<application>';
  const group = options.deploymentGroup ?? '<deployment group>';
  return (
    `aws deploy stop-deployment --auto-rollback-enabled${region} --deployment-id "$(aws deploy list-deployments${region} ` +
    `--application-name ${app} --deployment-group-name ${group} --include-only-statuses InProgress --query 'deployments[0]' --output text)"`
  );
}

async function rollback(options: Options, say: (line: string) => void): Promise<void> {
  const lambda = new LambdaClient({ ...(options.region && { region: options.region }) });
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: options.functionName, Name: options.alias }));
  const live = alias.FunctionVersion!;
  const shifting = Object.keys(alias.RoutingConfig?.AdditionalVersionWeights ?? {});
  let target: string;
  if (shifting.length > 0 && options.to === undefined) {
    // Mid-shift the alias's own version is the old one; the weighted one is the release.
    target = live;
  } else {
    const versions = await publishedVersions(lambda, options.functionName);
    const before = versions.filter((v) => v < Number(live));
    target = options.to ?? String(before.at(-1) ?? '');
    if (!target) throw new Error(`alias ${options.alias} is on version ${live}, the oldest published version: there is none to go back to`);
    if (!versions.includes(Number(target))) throw new Error(`--to ${target}: no such version of ${options.functionName} (published: ${versions.join(', ')})`);
  }
  await lambda.send(
    new UpdateAliasCommand({
      FunctionName: options.functionName,
      Name: options.alias,
      FunctionVersion: target,
      RoutingConfig: { AdditionalVersionWeights: {} },
    }),
  );
  if (shifting.length > 0) {
    say(`${options.alias}: all traffic back on version ${target} (version ${shifting.join(', ')} was taking a share of it).`);
    say(`A CodeDeploy deployment is shifting this alias and will shift it again; stop it (it then rolls back to ${target} for good):`);
    say(`  ${stopDeploymentCommand(options)}`);
  } else {
    say(`${options.alias}: moved from version ${live} to ${target}. The next deploy shifts it to a new version as usual.`);
  }
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    console.error(`rollback: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  try {
    await rollback(options, (line) => console.log(line));
    return 0;
  } catch (error) {
    console.error(`rollback: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
