// Package arqredis owns every Redis command sequence goarq sends: the Lua
// scripts, the MULTI/EXEC and WATCH transactions and the reads. The worker,
// the client and package inspect call it and build no command sequence of
// their own, so goarq can be checked against arq 0.28 by reading this
// package next to arq's worker.py, jobs.py and connections.py.
//
// Where each arq function lives here:
//
//	arq                                   arqredis
//	ArqRedis.enqueue_job                  RDB.EnqueueOne, RDB.Enqueue (script; a batch pipelined), RDB.EnqueueWatchMulti (arq's own WATCH/MULTI)
//	Worker.start_jobs + run_job's start   RDB.Claim (claimScript), RDB.Head (the idle peek)
//	Worker.finish_job, finish_failed_job  Finish, RDB.WriteFinishes (one script for a batch, applied per job only while its claim token holds, in a MULTI optionally ending with a claim)
//	run_job's "job_try > retry counter"   RDB.SetRetry
//	Worker._cancel_aborted_jobs           RDB.AbortRequests, RDB.ForgetAborts
//	Worker.record_health                  RDB.WriteHealth; Worker.close: RDB.DeleteHealth
//	Job.status, result, info, result_info RDB.JobState, RDB.PollResult, RDB.GetResult, RDB.GetJob, RDB.Score
//	Job.abort                             RDB.RequestAbort
//	ArqRedis.queued_jobs, all_job_results RDB.QueuePage (pages by rank), RDB.KeyCensus (SCAN), RDB.Results (MGET)
//	arq --check (check_health)            RDB.ReadHealth
//	(goarq only) the idle worker's sleep  RDB.Watch (push wake-up), RDB.NextDue
//	(goarq only) Job.result's sleep       RDB.NewWaiters (push wake-up)
//	(goarq only) goarq doctor's reads      RDB.ServerFacts, RDB.EvictionPolicy, RDB.ServerTime, RDB.ScanJobKeys, RDB.InProgressStates, RDB.OrphanRetries, RDB.ACLDryRun
//
// acl.go holds the least-privilege table: every command of this package,
// with its keys and channels and the roles that send it, from which
// `goarq acl` prints each role's ACL rule. acl_test.go fails when a command
// sent here is missing from it.
//
// Scripts are run with one NOSCRIPT strategy (runScript): EVALSHA, and on
// NOSCRIPT, EVAL with the script's text (which caches it). A script queued inside a MULTI
// or a pipeline cannot be retried there: its caller loads the script on
// NOSCRIPT (LoadScripts) and the next call finds it; WriteFinishes, whose
// finishes then did not apply, writes them again at once.
package arqredis
