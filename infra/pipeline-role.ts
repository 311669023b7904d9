// The role .github/workflows/deploy.yml assumes with GitHub's OIDC token: no stored AWS keys. It
// trusts one repository, and only runs of one branch (or one GitHub environment), and may do what
// the workflow does: deploy through the CDK bootstrap roles of the account (`cdk deploy` assumes them; the role
// itself creates nothing), wait for the CodeDeploy release, read the stacks' outputs and the
// function's REPORT lines for `npm run verify`. Deployed once per stage, by hand, before the first
// pipeline run (docs/deploy.md "The pipeline").
import { CfnOutput, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** GitHub Actions' OIDC issuer and the audience its tokens carry for AWS. */
export const GITHUB_OIDC_ISSUER = 'token.actions.githubusercontent.com';
const AWS_AUDIENCE = 'sts.amazonaws.com';

export interface PipelineRoleStackProps extends StackProps {
  readonly stage: string;
  /** `owner/name` of the repository whose workflow deploys. */
  readonly repository: string;
  /** Runs of this branch may deploy. @default 'main' */
  readonly branch?: string;
  /**
   * Trust runs of this GitHub environment instead of a branch (the environment's protection rules
   * then decide who deploys). @default - the branch
   */
  readonly environment?: string;
  /**
   * The account's GitHub OIDC provider, when one exists already (an account holds one per issuer).
   * @default - this stack creates it
   */
  readonly oidcProviderArn?: string;
  /** The CDK bootstrap qualifier. @default 'hnb659fds', CDK's own */
  readonly bootstrapQualifier?: string;
}

export class PipelineRoleStack extends Stack {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: PipelineRoleStackProps) {
    super(scope, id, props);
    if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(props.repository)) {
      throw new Error(`PipelineRoleStack: repository "${props.repository}" must be owner/name, e.g. "acme/mcp-servers".`);
    }
    const provider = props.oidcProviderArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'GitHubOidc', props.oidcProviderArn)
      : new iam.OidcProviderNative(this, 'GitHubOidc', { url: `https://${GITHUB_OIDC_ISSUER}`, clientIds: [AWS_AUDIENCE] });
    const subject = props.environment
      ? `repo:${props.repository}:environment:${props.environment}`
      : `repo:${props.repository}:ref:refs/heads/${props.branch ?? 'main'}`;
    this.role = new iam.Role(this, 'DeployRole', {
      description: `Deploys MCP kit stage ${props.stage} from GitHub Actions (${subject})`,
      assumedBy: new iam.OpenIdConnectPrincipal(provider, {
        StringEquals: { [`${GITHUB_OIDC_ISSUER}:aud`]: AWS_AUDIENCE, [`${GITHUB_OIDC_ISSUER}:sub`]: subject },
      }),
    });
    this.grantWorkflow(props.bootstrapQualifier ?? 'hnb659fds');
    new CfnOutput(this, 'DeployRoleArn', {
      value: this.role.roleArn,
      description: 'The AWS_DEPLOY_ROLE_ARN variable of the GitHub repository (Settings → Variables)',
    });
  }

  /** A value as cdk-nag spells it in a finding's id: literal when known, `<AWS::…>` when a token. */
  private nagName(value: string, pseudo: string): string {
    return Token.isUnresolved(value) ? `<${pseudo}>` : value;
  }

  private grantWorkflow(qualifier: string): void {
    const account = this.nagName(this.account, 'AWS::AccountId');
    // Any region's: the Lambda@Edge stacks deploy through us-east-1's.
    const bootstrapRoles = `arn:${this.partition}:iam::${this.account}:role/cdk-${qualifier}-*-${this.account}-*`;
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'CdkDeploy', actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [bootstrapRoles] }));
    // Reading: the stacks' outputs (URLs, the rollback command), the release in progress, REPORT lines.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WatchRelease',
        actions: [
          'cloudformation:DescribeStacks',
          'cloudformation:ListStackResources',
          'codedeploy:ListDeployments',
          'codedeploy:GetDeployment',
          'logs:FilterLogEvents',
        ],
        resources: ['*'],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Read-only calls on stacks, deployments and log groups whose names CDK generates at deploy time; nothing here writes.',
    });
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${this.nagName(this.partition, 'AWS::Partition')}:iam::${account}:role/cdk-${qualifier}-*-${account}-*]`,
      reason:
        'The CDK bootstrap roles (deploy, file publishing, lookup) of this account, in its region and us-east-1 (Lambda@Edge): `cdk deploy` assumes them.',
    });
  }
}
