/*
 * tr_record.h - the `arenatrace record` launcher (tr_record.c).
 */
#ifndef ARENATRACE_TR_RECORD_H
#define ARENATRACE_TR_RECORD_H

/* argv[0] is "record"; returns the exit status. */
int tr_cmd_record(int argc, char **argv);

#endif
