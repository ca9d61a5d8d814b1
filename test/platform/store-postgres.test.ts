import { tempPostgresStore, testPostgresUrl } from './helpers.ts';
import { runStoreSuite } from './store-suite.ts';

const url = testPostgresUrl('PostgreSQL store suite');
if (url) runStoreSuite('PostgreSQL', () => tempPostgresStore(url, 'mqiot_test'));
