; Inno Setup script: a per-user install of the PyInstaller bundle (dist\ime-agent\).
;   iscc packaging\windows\ime-agent.iss
; Per-user (no admin rights): the agent only ever watches the user who installed it.
; "Start at login" is an unticked, opt-in task; it writes the same HKCU Run value as
; `ime-agent autostart enable`, and the uninstaller removes it.

#define AppName "ime-agent"
#define AppVersion "0.1.0"

[Setup]
AppId={{7C0E7C52-3F0B-4D8A-9B1E-6A1D2B3C4D5E}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=ime-agent research project
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
DisableProgramGroupPage=yes
OutputDir=..\..\dist
OutputBaseFilename=ime-agent-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\ime-agent.exe

[Tasks]
Name: "startatlogin"; Description: "Start ime-agent when I log in"; GroupDescription: "Optional:"; Flags: unchecked
Name: "desktopicon"; Description: "Create a desktop shortcut"; GroupDescription: "Optional:"; Flags: unchecked

[Files]
Source: "..\..\dist\ime-agent\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\ime-agent.exe"; Parameters: "run"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\ime-agent.exe"; Parameters: "run"; Tasks: desktopicon

[Registry]
; Same value name as ime_agent/autostart/_winreg.py, so `ime-agent autostart status` sees it.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; \
  ValueName: "ime-agent"; ValueData: """{app}\ime-agent.exe"" run"; \
  Flags: uninsdeletevalue; Tasks: startatlogin

[Run]
; First start shows the consent window; nothing is captured before the user confirms.
Filename: "{app}\ime-agent.exe"; Parameters: "run"; Description: "Start ime-agent now"; \
  Flags: nowait postinstall skipifsilent

[UninstallRun]
Filename: "{app}\ime-agent-cli.exe"; Parameters: "autostart disable"; Flags: runhidden; RunOnceId: "autostart"
