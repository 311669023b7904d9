// McpEdgeFirewall: a WAFv2 web ACL for CloudFront distributions in front of MCP servers — a
// per-IP rate rule plus AWS's IP-reputation and known-bad-input rule groups. CLOUDFRONT-scoped
// ACLs exist only in us-east-1, so this construct must be placed in a stack deployed there.
import { Stack, Token } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface McpEdgeFirewallProps {
  /**
   * Requests one client IP may make in any five-minute window before WAF blocks it.
   * @default 2000
   */
  readonly requestsPerFiveMinutes?: number;
}

export class McpEdgeFirewall extends Construct {
  readonly webAcl: wafv2.CfnWebACL;
  /** Pass to `McpServerEndpointProps.webAclArn`. */
  readonly webAclArn: string;

  constructor(scope: Construct, id: string, props: McpEdgeFirewallProps = {}) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region !== 'us-east-1') {
      throw new Error(`McpEdgeFirewall: CloudFront web ACLs live in us-east-1; this stack is in ${region}.`);
    }
    const limit = props.requestsPerFiveMinutes ?? 2000;
    if (!Number.isInteger(limit) || limit < 10) {
      throw new Error(`McpEdgeFirewall: requestsPerFiveMinutes must be a whole number of at least 10, got ${limit}.`);
    }
    const visibility = (metricName: string) => ({ metricName, cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true });
    const managed = (priority: number, name: string): wafv2.CfnWebACL.RuleProperty => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: visibility(name),
    });

    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('mcp-edge'),
      // Not the common rule set: its 8 KB body-size rule would block ordinary MCP tool calls.
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        managed(1, 'AWSManagedRulesAmazonIpReputationList'),
        managed(2, 'AWSManagedRulesKnownBadInputsRuleSet'),
      ],
    });
    this.webAclArn = this.webAcl.attrArn;
  }
}
