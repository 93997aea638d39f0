import { MemoryStateStore } from '../lib/store/memory-store.ts';
import { describeStoreContract } from './store-contract.ts';

describeStoreContract('MemoryStateStore', () => new MemoryStateStore());
