// The AWS SDK warns on every Node 20 process that its releases after January 2027 need Node 22. sluice runs on
// both (Lambda deploys on nodejs22.x), so the CLI turns that one notice off with the SDK's own switch.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
