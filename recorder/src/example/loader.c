/* loader.c - load a kernel driver (argv[1]) under Wine through the service
 * manager, as Wine's own kernel tests do (dlls/ntoskrnl.exe/tests/ntoskrnl.c),
 * then stop it, which runs its DriverUnload. */
#include <windows.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	SC_HANDLE scm, svc;
	SERVICE_STATUS ss;
	char path[MAX_PATH];
	if (argc != 2) return 2;
	GetFullPathNameA(argv[1], MAX_PATH, path, NULL);
	scm = OpenSCManagerA(NULL, NULL, SC_MANAGER_ALL_ACCESS);
	if (!scm) { printf("OpenSCManager: %lu\n", GetLastError()); return 1; }
	svc = OpenServiceA(scm, "wsktracekd", SERVICE_ALL_ACCESS);
	if (svc) { ControlService(svc, SERVICE_CONTROL_STOP, &ss); DeleteService(svc); CloseServiceHandle(svc); }
	svc = CreateServiceA(scm, "wsktracekd", "wsktracekd", SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START,
			     SERVICE_ERROR_NORMAL, path, NULL, NULL, NULL, NULL, NULL);
	if (!svc) { printf("CreateService: %lu\n", GetLastError()); return 1; }
	if (!StartServiceA(svc, 0, NULL)) { printf("StartService: %lu\n", GetLastError()); DeleteService(svc); return 1; }
	printf("started\n");
	Sleep(1000);
	if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss)) printf("stop: %lu\n", GetLastError());
	Sleep(500);
	DeleteService(svc);
	CloseServiceHandle(svc);
	CloseServiceHandle(scm);
	printf("stopped\n");
	return 0;
}
