"""BrainTumorAI: brain-tumour MRI deep learning in one Slicer panel (research use; demo weights).

Thin by design: module metadata, the Widget (panel <-> parameter node <-> logic) and the
self-test. The work happens in BrainTumorAISlicer (MRML logic) and BrainTumorAILib (core).
"""

from pathlib import Path
from typing import Annotated

import logging
import time

import qt
import slicer
import vtk
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule, ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

from BrainTumorAILib.catalog import DEVICE_TITLES, DEVICES, task_specs
from BrainTumorAISlicer import (
    BrainTumorAIError, BrainTumorAIFollowupLogic, BrainTumorAILogic, guess_input_volumes, parameter_node)
from BrainTumorAISlicer.followup_logic import panel_studies
from BrainTumorAISlicer.panel_state import panel_task_offers
from BrainTumorAISlicer.dependencies import ensure_dependencies
from BrainTumorAISlicer.dicom_export import export_run_to_dicom
from BrainTumorAISlicer.resources import resource_path
from BrainTumorAISlicer.result_check import result_problems, snapshot_inputs


class BrainTumorAI(ScriptedLoadableModule):
    def __init__(self, parent):
        super().__init__(parent)
        parent.title = "BrainTumorAI"
        parent.categories = ["Segmentation"]
        parent.contributors = ["BrainTumorAI developers"]
        parent.helpText = (
            "Glioblastoma vs solitary metastasis with class-activation maps, brain-metastasis detection and "
            "segmentation, and tumour type, from T1CE / T2 / FLAIR / T1 and a rectangular ROI. "
            "<b>Intended use: research only. Not a medical device; not for diagnosis or treatment decisions. "
            "The bundled models are demo weights trained on synthetic images.</b> "
            "See the README for training your own model sets with BrainTumorAITrainingLogic.")
        parent.acknowledgementText = (
            "Methods after Shin et al. 2021, Grøvik et al. 2020, Jünger et al. 2021 and Chakrabarty et al. 2021; "
            "built on MONAI, PyTorch, SimpleITK and 3D Slicer.")
        parent.icon = qt.QIcon(str(resource_path("Icons/BrainTumorAI.png")))


@parameterNodeWrapper
class BrainTumorAIParameterNode:
    t1ce: slicer.vtkMRMLScalarVolumeNode
    t2: slicer.vtkMRMLScalarVolumeNode
    flair: slicer.vtkMRMLScalarVolumeNode
    t1: slicer.vtkMRMLScalarVolumeNode
    roi: slicer.vtkMRMLMarkupsROINode
    tasks: str = ",".join(task_specs())  # the checked tasks, comma-separated
    device: Annotated[str, Choice(list(DEVICES))] = "auto"


class BrainTumorAIWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self._parameterNode = self._guiTag = self.run = self.reportPath = self.lastRun = None
        self.followupRun = self.latestLesions = None
        self._addedNodes = []  # volumes added since the last autofill

    def setup(self):
        super().setup()
        panel = slicer.util.loadUI(str(resource_path("UI/BrainTumorAI.ui")))
        self.layout.addWidget(panel)
        self.ui = slicer.util.childWidgetVariables(panel)
        panel.setMRMLScene(slicer.mrmlScene)
        self.logic = BrainTumorAILogic()
        self.taskBoxes = {name: qt.QCheckBox(spec.title) for name, spec in task_specs().items()}
        for box in self.taskBoxes.values():
            self.ui.tasksFrame.layout().addWidget(box)
            box.toggled.connect(self.onTasksToggled)
        for device in DEVICES:
            self.ui.deviceComboBox.addItem(DEVICE_TITLES[device], device)
        self.ui.deviceComboBox.currentIndexChanged.connect(self.onDeviceChanged)
        self.ui.roiSelector.currentNodeChanged.connect(self.ui.roiPlaceWidget.setCurrentNode)
        self.ui.roiPlaceWidget.placeMultipleMarkups = slicer.qSlicerMarkupsPlaceWidget.ForcePlaceSingleMarkup
        self.ui.applyButton.clicked.connect(self.onApplyButton)
        self.ui.openReportButton.clicked.connect(
            lambda: qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(str(self.reportPath))))
        self.ui.exportDicomButton.clicked.connect(self.onExportDicom)
        self.pollTimer = qt.QTimer()
        self.pollTimer.setInterval(200)
        self.pollTimer.timeout.connect(self.onPoll)
        self.followupLogic = BrainTumorAIFollowupLogic()
        self.ui.followupButton.clicked.connect(self.onFollowupButton)
        self.followupTimer = qt.QTimer()
        self.followupTimer.setInterval(200)
        self.followupTimer.timeout.connect(self.onFollowupPoll)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, lambda *_: self.setParameterNode(None))
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self.onNodeAdded)
        self.updateTaskAvailability()
        self.initializeParameterNode()

    def cleanup(self):
        self.removeObservers()
        self.pollTimer.stop()
        self.followupTimer.stop()
        for run in (self.run, self.followupRun):
            if run is not None:
                run.cancel()

    def enter(self):
        self.updateTaskAvailability()
        self.initializeParameterNode()

    def exit(self):
        self.setParameterNode(None)

    def initializeParameterNode(self):
        self.setParameterNode(BrainTumorAIParameterNode(parameter_node()))
        self.autofillInputs(guess_input_volumes())

    def onSceneEndClose(self, *_):
        if self.parent.isEntered:
            self.initializeParameterNode()

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def onNodeAdded(self, _caller, _event, node):
        if node.IsA("vtkMRMLScalarVolumeNode"):
            if not self._addedNodes:  # one deferred fill for a burst of nodes, once they have their names
                qt.QTimer.singleShot(0, lambda: self.autofillInputs(guess_input_volumes(candidates=self._addedNodes)))
            self._addedNodes.append(node)

    def setParameterNode(self, wrapper):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._guiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
        self._parameterNode = wrapper
        if wrapper:
            self._guiTag = wrapper.connectGui(self.ui)
            self.addObserver(wrapper, vtk.vtkCommand.ModifiedEvent, self.updateGUIFromParameterNode)
            self.updateGUIFromParameterNode()

    def updateGUIFromParameterNode(self, *_):
        checked = set(self._parameterNode.tasks.split(","))
        for name, box in self.taskBoxes.items():
            box.blockSignals(True)
            box.checked = name in checked
            box.blockSignals(False)
        self.ui.deviceComboBox.blockSignals(True)
        self.ui.deviceComboBox.currentIndex = self.ui.deviceComboBox.findData(self._parameterNode.device)
        self.ui.deviceComboBox.blockSignals(False)
        ready = self._parameterNode.t1ce is not None and self._parameterNode.t2 is not None
        self.ui.applyButton.enabled = ready or self.run is not None

    def autofillInputs(self, guessed: dict):
        self._addedNodes = []
        if self._parameterNode is None:
            return
        for sequence, node in guessed.items():
            if getattr(self._parameterNode, sequence) is None:
                setattr(self._parameterNode, sequence, node)

    def updateTaskAvailability(self):
        """Offer only tasks with an installed model set; a task registered since appears."""
        offers, problem = panel_task_offers(self.logic.installed_model_sets)
        self.ui.errorLabel.text = problem
        for name, (offered, tooltip) in offers.items():
            if name not in self.taskBoxes:
                self.taskBoxes[name] = qt.QCheckBox(task_specs()[name].title)
                self.ui.tasksFrame.layout().addWidget(self.taskBoxes[name])
                self.taskBoxes[name].toggled.connect(self.onTasksToggled)
            self.taskBoxes[name].enabled, self.taskBoxes[name].toolTip = offered, tooltip

    def onTasksToggled(self, *_):
        self._parameterNode.tasks = ",".join(name for name, box in self.taskBoxes.items() if box.checked)

    def onDeviceChanged(self, *_):
        self._parameterNode.device = self.ui.deviceComboBox.currentData

    def onApplyButton(self):
        if self.run is not None:
            self.ui.statusLabel.text = "Cancelling..."
            self.run.cancel()  # onPoll reports the cancellation
            return
        self.ui.errorLabel.text = ""
        tasks = [name for name, box in self.taskBoxes.items() if box.checked and box.enabled]
        try:
            if not tasks:
                raise BrainTumorAIError("select at least one task")
            if not ensure_dependencies(slicer.util.confirmOkCancelDisplay):
                return
            p = self._parameterNode
            self.run = self.logic.start(p.t1ce, p.t2, p.flair, p.t1, p.roi, tasks=tasks, device=p.device)
        except Exception as error:  # every failure ends in the panel, not only in the console
            logging.exception("BrainTumorAI could not start the run")
            self.ui.errorLabel.text = str(error) if isinstance(error, BrainTumorAIError) else \
                f"{type(error).__name__}: {error}"
            return
        finally:
            self.updateTaskAvailability()  # packages may have been installed
        self.setRunning(True)
        self.pollTimer.start()

    def onPoll(self):
        for event in self.run.poll():
            self.ui.progressBar.value = round(100 * event.fraction)
            self.ui.statusLabel.text = f"{event.stage}: {event.message}" if event.message else event.stage
        if not self.run.finished:
            return
        self.pollTimer.stop()
        run, self.run = self.run, None
        self.setRunning(False)
        try:
            results = run.load_results()
        except BrainTumorAIError as error:
            self.ui.statusLabel.text, self.ui.errorLabel.text = "", str(error)
            return
        summary = results.summary
        self.ui.verdictLabel.text, self.ui.probabilitiesLabel.text = summary.verdict, summary.probabilities
        self.ui.lesionsLabel.text, self.ui.modelSetsLabel.text = summary.lesions, summary.model_sets
        self.ui.qualityLabel.text, self.ui.answerChecksLabel.text = summary.quality, summary.answer_checks
        self.reportPath = results.output_dir / "report.html"
        self.ui.openReportButton.enabled = self.reportPath.is_file()
        self.lastRun = (results.output_dir, run.inputs)
        self.ui.exportDicomButton.enabled = True
        self.ui.progressBar.value, self.ui.statusLabel.text = 100, f"Done. Files: {results.output_dir}"
        for chart in results.nodes.charts.values():
            slicer.modules.plots.logic().ShowChartInLayout(chart)
        self.latestLesions = next(iter(results.nodes.segmentations.values()), None)

    def onFollowupButton(self):
        p = self._parameterNode
        try:
            present = self.latestLesions is not None and slicer.mrmlScene.IsNodePresent(self.latestLesions)
            lesions = self.latestLesions if present else None
            studies = panel_studies(self.ui.followupStudiesTextEdit.plainText, self.ui.followupDateLineEdit.text,
                                    p.t1ce, p.t2, p.flair, p.t1, lesions)
            self.followupRun = self.followupLogic.start(studies, device=p.device)
        except BrainTumorAIError as error:
            self.ui.followupResponseLabel.text = str(error)
            return
        self.ui.followupButton.enabled = False
        self.followupTimer.start()

    def onFollowupPoll(self):
        for event in self.followupRun.poll():
            self.ui.followupResponseLabel.text = f"{event.stage}: {event.message}"
        if not self.followupRun.finished:
            return
        self.followupTimer.stop()
        run, self.followupRun = self.followupRun, None
        self.ui.followupButton.enabled = True
        try:
            results = run.load_results()
        except BrainTumorAIError as error:
            self.ui.followupResponseLabel.text = str(error)
            return
        self.ui.followupResponseLabel.text = "\n".join(results.summary_lines())
        self.reportPath = results.output_dir / "report.html"
        self.ui.openReportButton.enabled = True
        slicer.modules.plots.logic().ShowChartInLayout(results.chart)

    def onExportDicom(self):
        folder = qt.QFileDialog.getExistingDirectory(self.parent, "Export the last run to DICOM")
        if not folder:
            return
        database = getattr(slicer, "dicomDatabase", None)
        try:
            files = export_run_to_dicom(self.lastRun[0], self.lastRun[1], folder, database=database)
        except BrainTumorAIError as error:
            self.ui.errorLabel.text = str(error)
            return
        where = f"{folder} and the DICOM database" if database is not None else folder
        self.ui.statusLabel.text = f"DICOM: {len(files)} objects in {where}"

    def setRunning(self, running: bool):
        self.ui.applyButton.text = "Cancel" if running else "Run"
        self.ui.applyButton.enabled = True
        self.ui.inputsCollapsibleButton.enabled = self.ui.tasksCollapsibleButton.enabled = not running


class BrainTumorAITest(ScriptedLoadableModuleTest):
    """Runs every task that has a model set on the bundled demo case, on the CPU, and checks the nodes."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_demo_case_all_available_tasks_on_cpu()

    def test_demo_case_all_available_tasks_on_cpu(self):
        # under --testing nothing is installed from the network: missing packages fail the test
        self.assertTrue(ensure_dependencies(slicer.util.confirmOkCancelDisplay,
                                            allow_install=not slicer.app.testingEnabled()))
        from BrainTumorAILib.catalog import SEQUENCES
        from BrainTumorAILib.demo import available_tasks, demo_case
        from BrainTumorAILib.models.registry import ModelRegistry
        from BrainTumorAILib.synthetic import load_truth

        tasks = available_tasks(ModelRegistry.load())
        self.assertTrue(tasks, "no model set is installed (Resources/models/registry.json)")
        self.delayDisplay("Generating the demo case")
        case = demo_case(Path(slicer.app.temporaryPath) / "BrainTumorAI-demo")
        inputs = {s: slicer.util.loadVolume(str(case / f"{s}.nii.gz"), {"name": f"demo {s}"}) for s in SEQUENCES}
        roi = slicer.util.loadMarkups(str(case / "roi.mrk.json"))
        snapshot = snapshot_inputs(inputs)
        self.delayDisplay(f"Running {', '.join(tasks)} on the CPU")
        run = BrainTumorAILogic().start(**inputs, roi=roi, tasks=tasks, device="cpu")
        while not run.finished:  # the way the panel runs it: Slicer keeps handling events meanwhile
            run.poll()
            slicer.app.processEvents()
            time.sleep(0.1)
        results = run.load_results()
        self.assertEqual(result_problems(results, inputs, snapshot), [])
        self.assertEqual(sorted(results.result["tasks"]), sorted(tasks))
        if "gbm-met" in tasks:
            self.assertEqual(results.result["tasks"]["gbm-met"]["label"], load_truth(case)["gbm_met_label"])
        for model_set in results.result["models"].values():
            self.assertTrue(model_set["notice"] or not model_set["demo"], "a demo model set without its notice")
        self.delayDisplay("BrainTumorAI self-test passed")
