// One free-port picker for every package's tests (below the ephemeral range; see the revocation package's helper).
export { freePort } from '../../../revocation/test/helpers/free-port.js';
