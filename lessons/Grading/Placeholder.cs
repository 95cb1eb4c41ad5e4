namespace Grading;
