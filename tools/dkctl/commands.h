// dkctl's commands. Each returns the process exit code (see kUsage in main.cpp).
#pragma once

#include "args.h"

namespace dk::cli {

enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,      // bad command line
  kExitFailed = 2,     // the operation failed (I/O, missing store or path, …)
  kExitIntegrity = 3,  // verify found problems, or restore skipped damaged files
  kExitBusy = 4,       // another process has the store open for writing
};

int CmdInit(const Args& a);
int CmdCapture(const Args& a);
int CmdWatch(const Args& a);
int CmdLog(const Args& a);
int CmdRestore(const Args& a);
int CmdVerify(const Args& a);
int CmdGc(const Args& a);
int CmdStats(const Args& a);
int CmdDiff(const Args& a);

}  // namespace dk::cli
