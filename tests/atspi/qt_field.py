"""A Qt5 test window with one line edit. Runs with the system Python (python3-pyqt5).

Usage: python3 qt_field.py TITLE [--password]
Prints "ready <pid>" once the line edit has keyboard focus.
"""

import os
import sys

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication, QLineEdit

app = QApplication(sys.argv[:1])
edit = QLineEdit()
edit.setWindowTitle(sys.argv[1])
if "--password" in sys.argv:
    edit.setEchoMode(QLineEdit.Password)
edit.resize(400, 40)
edit.show()
edit.activateWindow()
edit.setFocus()


def announce():
    if edit.hasFocus() and edit.isActiveWindow():
        print(f"ready {os.getpid()}", flush=True)
    else:
        edit.activateWindow()
        edit.setFocus()
        QTimer.singleShot(20, announce)


QTimer.singleShot(0, announce)
app.exec_()
