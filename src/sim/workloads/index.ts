/** Importing this registers every built-in workload. New protocols add their workload file here. */
import './broadcast.js';
import './mutants.js';
import './pingpong.js';
import './membership.js';
import './membership-mutants.js';
import './rpc.js';
import './gossip.js';
import './kv.js';
import './kv-mutants.js';
import './mapreduce.js';
import './course.js';
