// CDK entry point (cdk.json "app"): builds the kit's app and synthesizes it. Settings come from
// CDK context; see docs/deploy.md.
import { App } from 'aws-cdk-lib';
import { buildKitApp } from './kit-app.ts';

const app = new App();
buildKitApp(app);
app.synth();
