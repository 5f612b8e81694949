// The same minimal app without an SDK.
fetch('/ping').then(() => console.log('ready'));
