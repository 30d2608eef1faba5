import { createParleyClient, webSessionStorage } from '@parley/sdk';
import { render } from 'preact';
import { App } from './App.js';
import './styles.css';

// The page is served by the Parley server it talks to: same origin, no configuration.
const client = createParleyClient({ baseUrl: window.location.origin, storage: webSessionStorage(window.localStorage) });
render(<App client={client} />, document.getElementById('app')!);
